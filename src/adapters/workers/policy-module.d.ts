// The policy file, bundled by wrangler: the `keygate:policy` alias names the file (wrangler.toml), and
// the Text module rule for *.hujson makes its default export the file's text.
declare module 'keygate:policy' {
  const source: string
  export default source
}

declare module '*.hujson' {
  const source: string
  export default source
}
