CREATE TABLE "push_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"target_id" text NOT NULL,
	"source" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"occurred_at" timestamp with time zone,
	"event_type" text NOT NULL,
	"event_id" text,
	"repository" text NOT NULL,
	"tag" text,
	"digest" text,
	"action" text NOT NULL,
	"payload_sha256" text NOT NULL,
	"status" text NOT NULL,
	"scan_id" bigint,
	"note" text
);
--> statement-breakpoint
ALTER TABLE "scans" ADD COLUMN "scope" jsonb;--> statement-breakpoint
ALTER TABLE "push_events" ADD CONSTRAINT "push_events_target_id_targets_id_fk" FOREIGN KEY ("target_id") REFERENCES "public"."targets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "push_events" ADD CONSTRAINT "push_events_scan_id_scans_id_fk" FOREIGN KEY ("scan_id") REFERENCES "public"."scans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "push_events_target_received_idx" ON "push_events" USING btree ("target_id","received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "push_events_delivery_idx" ON "push_events" USING btree ("target_id","source","event_id") WHERE event_id IS NOT NULL;