/** A stand-in Pushgateway on a free port: records every request, answers `status`. */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedPush {
  method: string | undefined;
  url: string | undefined;
  authorization: string | undefined;
  body: string;
}

export interface FakeGateway {
  port: number;
  requests: RecordedPush[];
  /** The status the next answers carry (200 by default). */
  status: number;
  /** Never answer (a gateway that hangs). */
  hang: boolean;
  /** Stop listening (again: a no-op). */
  close(): Promise<void>;
}

export async function startFakeGateway(): Promise<FakeGateway> {
  const requests: RecordedPush[] = [];
  const gateway = { requests, status: 200, hang: false } as FakeGateway;
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      if (gateway.hang) return;
      const authorization = req.headers.authorization;
      requests.push({ method: req.method, url: req.url, authorization, body });
      res.statusCode = gateway.status;
      // A gateway that echoes the request, credentials included, in its error.
      res.end(gateway.status === 200 ? "" : `bad push, auth was ${authorization}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  gateway.port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  gateway.close = () => (closed ??= new Promise((resolve) => server.close(() => resolve())));
  return gateway;
}
