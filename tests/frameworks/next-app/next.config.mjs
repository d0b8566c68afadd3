// StrictMode on (the app router's default, said here so the test does not depend on it); the
// rest is Next's defaults, as a user's app has them.
/** @type {import("next").NextConfig} */
export default { reactStrictMode: true };
