// Keeps wrangler and miniflare on this machine: no usage metrics, no error reports, no update check
// (it runs with the banner), no download of the `Request.cf` placeholder. Import before 'wrangler'.
process.env.WRANGLER_SEND_METRICS = 'false'
process.env.WRANGLER_SEND_ERROR_REPORTS = 'false'
process.env.WRANGLER_HIDE_BANNER = 'true'
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false'
