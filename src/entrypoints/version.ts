/** The package's version, from package.json (the build inlines it, so a bundled agent knows it too). */
import packageJson from '../../package.json' with { type: 'json' }

export const VERSION: string = packageJson.version
