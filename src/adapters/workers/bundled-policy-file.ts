// The policy file the Worker bundles by default (the `keygate:policy` alias in wrangler.toml points
// here). wrangler's Text rule for *.hujson makes the import the file's text. To ship another file,
// point this import at it, or the alias at a module like this one.
import source from '../../../policies/policy.hujson'

export default source
