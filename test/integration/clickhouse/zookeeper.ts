import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { freePort, IN_CI, requireTool, startProcess, stopProcess, tempDir, waitFor } from '../../support/env.js';

// A standalone ZooKeeper (Debian's `zookeeper` package) on loopback with its own data
// directory, for replicated ClickHouse tables and ON CLUSTER DDL in tests.

const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';

export interface ZooKeeper {
  port: number;
  stop(): Promise<void>;
  remove(): void;
}

/**
 * True once ZooKeeper serves sessions. `ruok` answers `imok` as soon as the process runs, before
 * it serves; ClickHouse 18.16 crashes on a connection lost in the handshake, so ask `srvr`.
 */
function serving(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    socket.setTimeout(1000);
    socket.on('connect', () => socket.write('srvr'));
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('end', () => resolve(/^Mode: standalone$/m.test(answer)));
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Start ZooKeeper, or undefined (with a notice) when java or the jar is missing outside CI. */
export async function startZooKeeper(): Promise<ZooKeeper | undefined> {
  const java = requireTool('java');
  if (!java) return undefined;
  if (!existsSync(ZOOKEEPER_JAR)) {
    if (IN_CI) throw new Error(`ZooKeeper not installed under CI: ${ZOOKEEPER_JAR}`);
    console.warn(`[skip] ${ZOOKEEPER_JAR} not found (Debian package zookeeper)`);
    return undefined;
  }
  const tmp = tempDir('egressd-zookeeper-');
  const port = await freePort();
  mkdirSync(join(tmp.path, 'data'));
  const cfg = join(tmp.path, 'zoo.cfg');
  writeFileSync(
    cfg,
    [
      'tickTime=500',
      `dataDir=${join(tmp.path, 'data')}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
      'maxClientCnxns=200',
      'admin.enableServer=false',
      '4lw.commands.whitelist=srvr',
      '',
    ].join('\n'),
  );
  const proc = startProcess(java, ['-Xmx256m', '-cp', `${ZOOKEEPER_JAR}:/etc/zookeeper/conf`, 'org.apache.zookeeper.server.ZooKeeperServerMain', cfg], { cwd: tmp.path });
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`zookeeper exited: ${proc.output()}`);
      return serving(port);
    },
    60_000,
    'zookeeper',
  );
  return {
    port,
    stop: () => stopProcess(proc.child),
    remove: () => tmp.remove(),
  };
}
