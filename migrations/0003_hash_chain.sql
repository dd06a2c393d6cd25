ALTER TABLE "repositories" ADD COLUMN "chain_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "repositories" ADD COLUMN "chain_head" text;--> statement-breakpoint
ALTER TABLE "repository_events" ADD COLUMN "chain_seq" bigint;--> statement-breakpoint
ALTER TABLE "repository_events" ADD COLUMN "hash" text;--> statement-breakpoint
ALTER TABLE "scans" ADD COLUMN "root_hash" text;--> statement-breakpoint
ALTER TABLE "scans" ADD COLUMN "previous_root" text;--> statement-breakpoint
ALTER TABLE "tag_events" ADD COLUMN "chain_seq" bigint;--> statement-breakpoint
ALTER TABLE "tag_events" ADD COLUMN "hash" text;--> statement-breakpoint
CREATE UNIQUE INDEX "repository_events_chain_idx" ON "repository_events" USING btree ("repository_id","chain_seq");--> statement-breakpoint
CREATE UNIQUE INDEX "tag_events_chain_idx" ON "tag_events" USING btree ("repository_id","chain_seq");
