/**
 * The ledger the `check` tests read: real scans of the OCI and ECR emulators through runScan.
 *
 * - target `shop` (OCI, no tag immutability: every tag mutable), reachable in image references as
 *   `registry.shop.example` and through the pull-through cache `mirror.shop.example:5000/cache`:
 *   `shop/api` v1.0.0 (moved by the second scan), v1.1.0, latest; `shop/web` 1.4.2, stable;
 *   `shop/worker` 2.0.0, whose tag listing fails in the second scan (so that scan is partial and
 *   the ledger's digest for it is stale).
 * - target `aws` (ECR `123456789012.dkr.ecr.us-east-1.amazonaws.com`): `payments/api` is
 *   IMMUTABLE_WITH_EXCLUSION with exclusion `dev-*`: v2.3.1 protected, dev-7 not.
 */
import pino from 'pino';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { startEcrEmulator, type EcrEmulator } from '../../src/emulators/ecr/index.js';
import { createOciCollector } from '../../src/collectors/oci/index.js';
import type { OciTargetConfig } from '../../src/collectors/oci/config.js';
import type { TargetConfig } from '../../src/config/schema.js';
import { runScan, type ScanSummary } from '../../src/scheduler/run-scan.js';
import type { Database } from '../../src/store/db.js';

export const SHOP_PULL_HOSTS = ['registry.shop.example', 'mirror.shop.example:5000/cache'];
export const ECR_HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

export interface CheckLedger {
  oci: OciEmulator;
  ecr: EcrEmulator;
  shop: OciTargetConfig;
  aws: TargetConfig;
  /** Digests by `repository:tag` as the ledger has them now (v1.0.0: after the move; worker: as first seen). */
  digests: Record<string, string>;
  /** The digest shop/api:v1.0.0 had before it moved. */
  movedFrom: string;
  scans: ScanSummary[];
  close(): Promise<void>;
}

/** Needs AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY set (any value): the ECR collector signs requests. */
export async function seedCheckLedger(db: Database): Promise<CheckLedger> {
  const logger = pino({ level: 'silent' });
  const oci = await startOciEmulator();
  const ecr = await startEcrEmulator();
  const shop: OciTargetConfig = { id: 'shop', kind: 'oci', url: oci.url, insecureSkipTlsVerify: false, pullHosts: SHOP_PULL_HOSTS };
  const aws = { id: 'aws', kind: 'ecr', region: 'us-east-1', endpoint: ecr.url, insecureSkipTlsVerify: false } as TargetConfig;

  const digests: Record<string, string> = {};
  const push = (repo: string, tag: string) => (digests[`${repo}:${tag}`] = oci.pushImage(repo, tag).digest);
  push('shop/api', 'v1.0.0');
  push('shop/api', 'v1.1.0');
  push('shop/api', 'latest');
  push('shop/web', '1.4.2');
  push('shop/web', 'stable');
  push('shop/worker', '2.0.0');
  ecr.estate.createRepository('payments/api', { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*'] });
  digests['payments/api:v2.3.1'] = ecr.estate.pushImage('payments/api', { tag: 'v2.3.1' });
  digests['payments/api:dev-7'] = ecr.estate.pushImage('payments/api', { tag: 'dev-7' });

  const scans: ScanSummary[] = [];
  scans.push(await runScan(db, shop as TargetConfig, { logger }));
  scans.push(await runScan(db, aws, { logger }));

  const movedFrom = digests['shop/api:v1.0.0'];
  digests['shop/api:v1.0.0'] = oci.moveTag('shop/api', 'v1.0.0').digest;
  // Moved in the registry too, but the ledger cannot know: its listing fails in the next scan.
  oci.moveTag('shop/worker', '2.0.0');
  oci.faults.add({ match: /^GET \/v2\/shop\/worker\/tags\/list/, status: 500 });
  scans.push(
    await runScan(db, shop as TargetConfig, {
      logger,
      collector: createOciCollector(shop, { logger }, { retryPolicy: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }),
    }),
  );
  return {
    oci,
    ecr,
    shop,
    aws,
    digests,
    movedFrom,
    scans,
    close: async () => {
      await oci.close();
      await ecr.close();
    },
  };
}
