ALTER TABLE "leases" ADD COLUMN "identity_slot" integer;--> statement-breakpoint
-- Before the unique index: a key that several unended leases share (the race this migration closes) keeps
-- its newest lease; the older ones are revoked here. No feed removal is written: gateways hold one peer per
-- key, which is the surviving lease's.
UPDATE "leases" SET "revoked_at" = now(), "ended_at" = now(),
  "revoked_reason" = 'another live lease held the same public key (closed by migration 0004)'
WHERE "ended_at" IS NULL AND "id" NOT IN (
  SELECT DISTINCT ON ("public_key") "id" FROM "leases" WHERE "ended_at" IS NULL
  ORDER BY "public_key", "created_at" DESC, "id" DESC
);--> statement-breakpoint
CREATE UNIQUE INDEX "leases_unended_public_key" ON "leases" USING btree ("public_key") WHERE "leases"."ended_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "leases_unended_identity_slot" ON "leases" USING btree ("identity_id","identity_slot") WHERE "leases"."ended_at" is null;