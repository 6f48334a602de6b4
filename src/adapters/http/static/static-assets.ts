/**
 * Serving the portal's bundled scripts and stylesheet: `/static/<name>.<hash>.<ext>` cached for a year
 * (the hash changes with the content), and the plain name as a fallback that is always revalidated.
 * Pages link through `assetUrl`, so they always name the current hash.
 */
import { ASSETS } from './assets.gen.ts'

export interface StaticAsset {
  name: string
  file: string
  type: string
  body: string
}

const byFile = new Map<string, StaticAsset>()
for (const asset of Object.values(ASSETS)) {
  byFile.set(asset.file, asset)
  byFile.set(asset.name, asset)
}

export function assetUrl(name: string): string {
  const asset = ASSETS[name]
  if (asset === undefined) throw new Error(`No static asset "${name}"; run build-assets.ts`)
  return `/static/${asset.file}`
}

export function findAsset(file: string): { asset: StaticAsset; immutable: boolean } | null {
  const asset = byFile.get(file)
  return asset === undefined ? null : { asset, immutable: asset.file === file }
}
