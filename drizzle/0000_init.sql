CREATE TABLE "address_allocations" (
	"address" text PRIMARY KEY NOT NULL,
	"pool" text NOT NULL,
	"offset" bigint NOT NULL,
	"lease_id" uuid,
	"gateway_id" uuid,
	"held_until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "address_pools" (
	"cidr" text PRIMARY KEY NOT NULL,
	"next_offset" bigint NOT NULL,
	"last_offset" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"type" text NOT NULL,
	"identity_id" text,
	"lease_id" text,
	"gateway_id" text,
	"actor" text,
	"policy_hash" text,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gateway_enrollments" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"gateway_name" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "gateway_feed_entries" (
	"gateway" text NOT NULL,
	"version" bigint NOT NULL,
	"kind" text NOT NULL,
	"lease_id" uuid NOT NULL,
	"public_key" text NOT NULL,
	"preshared_key_ciphertext" text,
	"allowed_ips" jsonb,
	"expires_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "gateway_feed_entries_gateway_version_pk" PRIMARY KEY("gateway","version")
);
--> statement-breakpoint
CREATE TABLE "gateway_feeds" (
	"gateway" text PRIMARY KEY NOT NULL,
	"version" bigint DEFAULT 0 NOT NULL,
	"floor_version" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gateways" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"public_key" text,
	"address_v4" text,
	"address_v6" text,
	"credential_hash" text,
	"created_at" timestamp with time zone NOT NULL,
	"enrolled_at" timestamp with time zone,
	"last_seen_at" timestamp with time zone,
	"applied_version" bigint,
	"peer_count" integer,
	"handshakes" jsonb,
	CONSTRAINT "gateways_name_unique" UNIQUE("name"),
	CONSTRAINT "gateways_credential_hash_unique" UNIQUE("credential_hash")
);
--> statement-breakpoint
CREATE TABLE "identities" (
	"id" uuid PRIMARY KEY NOT NULL,
	"idp_id" text NOT NULL,
	"issuer" text NOT NULL,
	"subject" text NOT NULL,
	"email" text,
	"email_verified" boolean DEFAULT false NOT NULL,
	"name" text,
	"groups" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"last_login_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"id" uuid PRIMARY KEY NOT NULL,
	"identity_id" uuid NOT NULL,
	"public_key" text NOT NULL,
	"name" text,
	"address_v4" text NOT NULL,
	"address_v6" text,
	"grants" jsonb NOT NULL,
	"preshared_key_ciphertext" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"revoked_reason" text,
	"ended_at" timestamp with time zone,
	"verdict" text NOT NULL,
	"amr" jsonb NOT NULL,
	"acr" text,
	"acrs" jsonb NOT NULL,
	"auth_time" bigint,
	"step_up" text,
	"policy_hash" text NOT NULL,
	"matched_grants" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "login_states" (
	"key" text PRIMARY KEY NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"identity_id" uuid NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "leases" ADD CONSTRAINT "leases_identity_id_identities_id_fk" FOREIGN KEY ("identity_id") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_identity_id_identities_id_fk" FOREIGN KEY ("identity_id") REFERENCES "public"."identities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "address_allocations_free" ON "address_allocations" USING btree ("pool","held_until");--> statement-breakpoint
CREATE INDEX "address_allocations_lease" ON "address_allocations" USING btree ("lease_id");--> statement-breakpoint
CREATE INDEX "audit_events_at" ON "audit_events" USING btree ("at","id");--> statement-breakpoint
CREATE INDEX "audit_events_identity" ON "audit_events" USING btree ("identity_id","at","id");--> statement-breakpoint
CREATE INDEX "audit_events_type" ON "audit_events" USING btree ("type","at","id");--> statement-breakpoint
CREATE INDEX "gateway_enrollments_gateway" ON "gateway_enrollments" USING btree ("gateway_name");--> statement-breakpoint
CREATE INDEX "gateway_feed_entries_created" ON "gateway_feed_entries" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "identities_issuer_subject" ON "identities" USING btree ("issuer","subject");--> statement-breakpoint
CREATE INDEX "leases_identity" ON "leases" USING btree ("identity_id","created_at");--> statement-breakpoint
CREATE INDEX "leases_unended_expiry" ON "leases" USING btree ("expires_at") WHERE "leases"."ended_at" is null;--> statement-breakpoint
CREATE INDEX "leases_grants" ON "leases" USING gin ("grants" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "login_states_expires" ON "login_states" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "sessions_identity" ON "sessions" USING btree ("identity_id");--> statement-breakpoint
CREATE INDEX "sessions_expires" ON "sessions" USING btree ("expires_at");