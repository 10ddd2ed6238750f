/**
 * Process-wide settings for our entry points (the CLI and the jobs).
 *
 * The AWS SDK warns at every start that its releases after January 2027 will
 * need Node 22. Our SDK versions are pinned exactly, so the warning tells a
 * user of this tool nothing they can act on; this is the SDK's own switch for
 * it. Every other warning still prints.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
