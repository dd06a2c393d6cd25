CREATE TABLE "schedule_slots" (
	"target_id" text NOT NULL,
	"slot" timestamp with time zone NOT NULL,
	"claimed_by" text NOT NULL,
	"claimed_at" timestamp with time zone NOT NULL,
	"scan_id" bigint,
	CONSTRAINT "schedule_slots_target_id_slot_pk" PRIMARY KEY("target_id","slot")
);
--> statement-breakpoint
CREATE INDEX "repository_snapshots_scan_idx" ON "repository_snapshots" USING btree ("scan_id");