/**
 * The package version. `deno.json` holds the same value; a test keeps the two
 * equal and the npm build takes its version from `deno.json`.
 */
export const VERSION = "0.2.0";

/** The package name, as published on JSR and npm. */
export const PACKAGE_NAME = "@antseed/provider-openai-responses";
