CREATE TABLE "step_up_enrolment_codes" (
	"code_hash" text PRIMARY KEY NOT NULL,
	"identity_id" uuid NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "totp_factors" ADD COLUMN "anchored" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "webauthn_credentials" ADD COLUMN "amr" text DEFAULT 'swk' NOT NULL;--> statement-breakpoint
ALTER TABLE "webauthn_credentials" ADD COLUMN "anchored" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "step_up_enrolment_codes" ADD CONSTRAINT "step_up_enrolment_codes_identity_id_identities_id_fk" FOREIGN KEY ("identity_id") REFERENCES "public"."identities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "step_up_enrolment_codes_identity" ON "step_up_enrolment_codes" USING btree ("identity_id");