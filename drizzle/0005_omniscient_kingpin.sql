ALTER TABLE "gateway_feed_entries" ADD COLUMN "routes" jsonb;--> statement-breakpoint
ALTER TABLE "gateways" ADD COLUMN "enforcement" text;