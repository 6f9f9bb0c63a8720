import { SETTINGS } from "@funker/handler/contract";
import type { HandlerMode, Setting, SettingName } from "@funker/handler/contract";

/**
 * The handler's settings that funker.yml may give per function, in the order
 * of the contract's table (`inFunkerYml` rows): the checker reads them as
 * keys of a function, and `funker dev` and the Docker verbs hand them to the
 * replicas as the handler's variables. A new row there is a new funker.yml
 * setting here, with no other change.
 */
export const FUNKER_YML_SETTINGS: readonly SettingName[] = (Object.keys(SETTINGS) as SettingName[]).filter(
  (name) => (SETTINGS[name] as Setting).inFunkerYml === true,
);

/** Checked values of those settings by option name: durations in milliseconds. */
export type HandlerSettings = Readonly<Partial<Record<SettingName, number | string | boolean>>>;

/**
 * The variables that carry a function's settings to its replicas, as the
 * handler reads them: `FUNKER_FUNCTION`, then each setting funker.yml gave
 * (durations as `<ms>ms`, which every version of the handler reads).
 */
export function settingsEnvironment(functionName: string, settings: HandlerSettings, modeOverride?: HandlerMode): Record<string, string> {
  const environment: Record<string, string> = { [SETTINGS.name.variable]: functionName };
  const values: HandlerSettings = modeOverride === undefined ? settings : { ...settings, mode: modeOverride };
  for (const name of FUNKER_YML_SETTINGS) {
    const value = values[name];
    if (value === undefined) continue;
    environment[SETTINGS[name].variable] = SETTINGS[name].kind === "duration" ? `${value}ms` : String(value);
  }
  return environment;
}
