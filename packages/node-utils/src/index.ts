export { Alarm } from "./alarm.js";
export { LONGEST_TIMER_MS, timerDelay } from "./timers.js";
export { TCP_KEEPALIVE_DELAY_MS } from "./tcp.js";
export { freePort } from "./ports.js";
