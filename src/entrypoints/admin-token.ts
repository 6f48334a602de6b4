/**
 * The local admin token's file name in the data dir: the running server writes it (mode 0600) so that
 * CLI verbs on the same host ask the server instead of opening the embedded database it holds.
 * Its own module so the CLI learns the name without loading the server.
 */
export const ADMIN_TOKEN_FILE = 'admin-token'
