/**
 * A loopback stand-in for AWS STS `AssumeRole`, in the STS query protocol: a form-encoded
 * `POST /` (`Action=AssumeRole&Version=2011-06-15&RoleArn=...`) answered with XML
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html,
 * https://smithy.io/2.0/aws/protocols/aws-query-protocol.html).
 *
 * Point the SDK at it with `AWS_ENDPOINT_URL_STS`. Every role assumed gets fresh temporary
 * credentials whose access key id the ECR emulator then sees in the Authorization header.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from '../faults.js';

export interface StsRole {
  /** When set, AssumeRole must carry this ExternalId or is denied. */
  externalId?: string;
}

export interface StsAssumeRoleCall {
  roleArn: string;
  roleSessionName: string;
  externalId?: string;
  /** Access key id of the credentials that signed the AssumeRole call (null: unsigned). */
  signedWith: string | null;
  /** The temporary access key id handed out, when the call succeeded. */
  issuedAccessKeyId?: string;
}

export interface StsStandIn {
  url: string;
  port: number;
  calls: StsAssumeRoleCall[];
  close(): Promise<void>;
}

export async function startStsStandIn(opts: { roles: Record<string, StsRole>; host?: string; port?: number; accountId?: string }): Promise<StsStandIn> {
  const host = opts.host ?? '127.0.0.1';
  const calls: StsAssumeRoleCall[] = [];

  const server = createServer((req, res) => {
    void (async () => {
      const form = new URLSearchParams(await readBody(req));
      const signedWith = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? null;
      if (req.method !== 'POST' || form.get('Action') !== 'AssumeRole' || form.get('Version') !== '2011-06-15') {
        return sendError(res, 400, 'InvalidAction', `Could not find operation ${form.get('Action') ?? '(none)'} for version ${form.get('Version') ?? '(none)'}`);
      }
      if (!signedWith) return sendError(res, 403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
      const call: StsAssumeRoleCall = {
        roleArn: form.get('RoleArn') ?? '',
        roleSessionName: form.get('RoleSessionName') ?? '',
        externalId: form.get('ExternalId') ?? undefined,
        signedWith,
      };
      calls.push(call);
      const role = opts.roles[call.roleArn];
      if (!role || (role.externalId !== undefined && role.externalId !== call.externalId)) {
        return sendError(res, 403, 'AccessDenied', `User: arn:aws:iam::${opts.accountId ?? '111111111111'}:user/${signedWith} is not authorized to perform: sts:AssumeRole on resource: ${call.roleArn}`);
      }
      const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
      call.issuedAccessKeyId = accessKeyId;
      const expiration = new Date(Date.now() + 3600_000).toISOString();
      const body =
        `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
        `<Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${randomBytes(20).toString('base64')}</SecretAccessKey>` +
        `<SessionToken>${randomBytes(48).toString('base64')}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
        `<AssumedRoleUser><AssumedRoleId>AROA${randomBytes(8).toString('hex').toUpperCase()}:${escapeXml(call.roleSessionName)}</AssumedRoleId>` +
        `<Arn>${escapeXml(call.roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/'))}/${escapeXml(call.roleSessionName)}</Arn></AssumedRoleUser>` +
        `</AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`;
      res.writeHead(200, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': randomUUID() });
      res.end(body);
    })().catch(() => {
      if (!res.headersSent) sendError(res, 500, 'InternalFailure', 'stand-in error');
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': randomUUID() });
  res.end(
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code>` +
      `<Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
