CREATE TABLE "client_credentials" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"lease_id" uuid NOT NULL,
	"identity_id" uuid NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "device_authorizations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"device_code_hash" text NOT NULL,
	"user_code" text NOT NULL,
	"purpose" text NOT NULL,
	"public_key" text NOT NULL,
	"device_name" text,
	"client_address" text,
	"lease_id" uuid,
	"status" text NOT NULL,
	"identity_id" uuid,
	"decided_at" timestamp with time zone,
	"denial_reason" text,
	"interval_seconds" integer NOT NULL,
	"last_polled_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "device_authorizations_device_code_hash_unique" UNIQUE("device_code_hash")
);
--> statement-breakpoint
ALTER TABLE "client_credentials" ADD CONSTRAINT "client_credentials_identity_id_identities_id_fk" FOREIGN KEY ("identity_id") REFERENCES "public"."identities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "device_authorizations" ADD CONSTRAINT "device_authorizations_identity_id_identities_id_fk" FOREIGN KEY ("identity_id") REFERENCES "public"."identities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "client_credentials_lease" ON "client_credentials" USING btree ("lease_id");--> statement-breakpoint
CREATE UNIQUE INDEX "device_authorizations_pending_user_code" ON "device_authorizations" USING btree ("user_code") WHERE "device_authorizations"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "device_authorizations_expires" ON "device_authorizations" USING btree ("expires_at");