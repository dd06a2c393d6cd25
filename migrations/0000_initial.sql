CREATE TABLE "repositories" (
	"id" serial PRIMARY KEY NOT NULL,
	"target_id" text NOT NULL,
	"name" text NOT NULL,
	"pull_reference" text NOT NULL,
	"first_seen_at" timestamp with time zone NOT NULL,
	"protection" jsonb NOT NULL,
	"raw_settings" jsonb,
	"gone_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "repository_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"repository_id" integer NOT NULL,
	"scan_id" bigint NOT NULL,
	"kind" text NOT NULL,
	"before" jsonb,
	"after" jsonb,
	"observed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "repository_snapshots" (
	"repository_id" integer NOT NULL,
	"scan_id" bigint NOT NULL,
	"observed_at" timestamp with time zone NOT NULL,
	"tag_count" integer NOT NULL,
	"tags_hash" text NOT NULL,
	"protection" jsonb NOT NULL,
	CONSTRAINT "repository_snapshots_repository_id_scan_id_pk" PRIMARY KEY("repository_id","scan_id")
);
--> statement-breakpoint
CREATE TABLE "scans" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"target_id" text NOT NULL,
	"status" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"repositories" integer DEFAULT 0 NOT NULL,
	"tags" integer DEFAULT 0 NOT NULL,
	"events" jsonb,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"warnings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"runner" text
);
--> statement-breakpoint
CREATE TABLE "tag_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"repository_id" integer NOT NULL,
	"tag" text NOT NULL,
	"kind" text NOT NULL,
	"digest" text,
	"previous_digest" text,
	"protected" boolean NOT NULL,
	"protection_reason" text NOT NULL,
	"observed_at" timestamp with time zone NOT NULL,
	"scan_id" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tags" (
	"repository_id" integer NOT NULL,
	"name" text NOT NULL,
	"digest" text NOT NULL,
	"media_type" text,
	"pushed_at" timestamp with time zone,
	"first_seen_at" timestamp with time zone NOT NULL,
	"changed_at" timestamp with time zone NOT NULL,
	"present" boolean NOT NULL,
	"protected" boolean NOT NULL,
	"protection_reason" text NOT NULL,
	"extra" jsonb,
	CONSTRAINT "tags_repository_id_name_pk" PRIMARY KEY("repository_id","name")
);
--> statement-breakpoint
CREATE TABLE "targets" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "repositories" ADD CONSTRAINT "repositories_target_id_targets_id_fk" FOREIGN KEY ("target_id") REFERENCES "public"."targets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "repository_events" ADD CONSTRAINT "repository_events_repository_id_repositories_id_fk" FOREIGN KEY ("repository_id") REFERENCES "public"."repositories"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "repository_events" ADD CONSTRAINT "repository_events_scan_id_scans_id_fk" FOREIGN KEY ("scan_id") REFERENCES "public"."scans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "repository_snapshots" ADD CONSTRAINT "repository_snapshots_repository_id_repositories_id_fk" FOREIGN KEY ("repository_id") REFERENCES "public"."repositories"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "repository_snapshots" ADD CONSTRAINT "repository_snapshots_scan_id_scans_id_fk" FOREIGN KEY ("scan_id") REFERENCES "public"."scans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scans" ADD CONSTRAINT "scans_target_id_targets_id_fk" FOREIGN KEY ("target_id") REFERENCES "public"."targets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tag_events" ADD CONSTRAINT "tag_events_repository_id_repositories_id_fk" FOREIGN KEY ("repository_id") REFERENCES "public"."repositories"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tag_events" ADD CONSTRAINT "tag_events_scan_id_scans_id_fk" FOREIGN KEY ("scan_id") REFERENCES "public"."scans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tags" ADD CONSTRAINT "tags_repository_id_repositories_id_fk" FOREIGN KEY ("repository_id") REFERENCES "public"."repositories"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "repositories_target_name_idx" ON "repositories" USING btree ("target_id","name");--> statement-breakpoint
CREATE INDEX "repository_events_repo_idx" ON "repository_events" USING btree ("repository_id","observed_at");--> statement-breakpoint
CREATE INDEX "repository_snapshots_observed_idx" ON "repository_snapshots" USING btree ("repository_id","observed_at");--> statement-breakpoint
CREATE INDEX "scans_target_started_idx" ON "scans" USING btree ("target_id","started_at");--> statement-breakpoint
CREATE INDEX "tag_events_repo_tag_idx" ON "tag_events" USING btree ("repository_id","tag","observed_at");--> statement-breakpoint
CREATE INDEX "tag_events_scan_idx" ON "tag_events" USING btree ("scan_id");