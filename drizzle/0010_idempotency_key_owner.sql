-- Keys now also guard renewals and revocations, some by the server's own admin token (no identity): the
-- scope becomes a text `owner`. Existing keys keep working: an identity's keys are owned by its id.
ALTER TABLE "idempotency_keys" DROP CONSTRAINT "idempotency_keys_identity_id_identities_id_fk";
--> statement-breakpoint
ALTER TABLE "idempotency_keys" DROP CONSTRAINT "idempotency_keys_pkey";
--> statement-breakpoint
ALTER TABLE "idempotency_keys" RENAME COLUMN "identity_id" TO "owner";
--> statement-breakpoint
ALTER TABLE "idempotency_keys" ALTER COLUMN "owner" SET DATA TYPE text USING "owner"::text;
--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY("owner","key");
