/**
 * A TCP relay between a replica and its master that can hold back the master's stream:
 * a replica that is online, answers reads, and lags exactly as long as a test wants.
 */
import { connect, createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface ReplicationProxy {
  port: number;
  /** Stop passing the master's bytes on (they are kept, in order). */
  hold(): void;
  /** Pass on what was held, and everything after it. */
  release(): void;
  close(): Promise<void>;
}

export async function startReplicationProxy(
  masterHost: string,
  masterPort: number,
): Promise<ReplicationProxy> {
  let holding = false;
  const links: { down: Socket; up: Socket; held: Buffer[] }[] = [];
  const server = createServer((down) => {
    const link = { down, up: connect(masterPort, masterHost), held: [] as Buffer[] };
    links.push(link);
    down.pipe(link.up);
    link.up.on("data", (chunk: Buffer) => (holding ? link.held.push(chunk) : down.write(chunk)));
    const end = () => {
      down.destroy();
      link.up.destroy();
    };
    down.on("error", end).on("close", end);
    link.up.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hold: () => void (holding = true),
    release: () => {
      holding = false;
      for (const link of links) for (const c of link.held.splice(0)) link.down.write(c);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { down, up } of links) {
          down.destroy();
          up.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
