/** The package name, used as the instrumentation scope of every span and metric. */
export const PACKAGE_NAME = 'agent-safety-otel';
/** The package version (a test keeps it equal to package.json). */
export const PACKAGE_VERSION = '0.1.0';
