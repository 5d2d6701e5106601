// An on-disk queue of profiles a destination did not take: bounded, shared by the processes of a service, replayed later.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeAtomically } from './file-destination';
import { payloadId, type ProfilePayload } from './payload';

const ENTRY = /\.spool$/;
const CLAIMED = /\.spool\.claimed-(\d+)$/;

/** SpooledPayload is a payload read back from the spool, with the file that holds it while it is claimed. */
export interface SpooledPayload {
  payload: ProfilePayload;
  file: string;
}

/**
 * Spool keeps one file per payload and destination, in a directory per destination (a hash of
 * its id, with the id written beside for people): `<header length><JSON header><profile>`.
 * Files are written whole (temporary name, then rename) and synchronously, so that a final exit
 * can spool. A process takes an entry by renaming it to `.claimed-<pid>` (a rename succeeds for
 * one process only), so processes sharing the spool never deliver one twice; claims of dead
 * processes are released when the next process opens the spool. Everything is best effort: the
 * spool never throws into the caller, it answers false and the caller counts a drop.
 */
export class Spool {
  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.releaseDeadClaims();
  }

  /** put stores a payload for a destination; it evicts the oldest entries to stay within maxBytes. Returns what it evicted, or false if it could not store. */
  put(destinationId: string, payload: ProfilePayload): { stored: boolean; evicted: number } {
    const header = Buffer.from(JSON.stringify({ ...payload, bytes: undefined, destination: destinationId }));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(header.length);
    const entry = Buffer.concat([length, header, payload.bytes]);
    if (entry.length > this.maxBytes) return { stored: false, evicted: 0 };
    try {
      const dir = this.destinationDir(destinationId);
      // Names sort by the period's end: the oldest go first, and replay keeps the order.
      writeAtomically(path.join(dir, `${String(payload.endMs).padStart(15, '0')}-${payloadId(payload)}.spool`), entry);
      return { stored: true, evicted: this.evictBeyond(this.maxBytes) };
    } catch {
      return { stored: false, evicted: 0 };
    }
  }

  /** claim takes up to `limit` of a destination's entries, oldest first, for this process. */
  claim(destinationId: string, limit: number): SpooledPayload[] {
    const dir = this.destinationDir(destinationId, false);
    const taken: SpooledPayload[] = [];
    for (const name of listSorted(dir).filter((n) => ENTRY.test(n))) {
      if (taken.length >= limit) break;
      const file = path.join(dir, `${name}.claimed-${process.pid}`);
      try {
        fs.renameSync(path.join(dir, name), file);
      } catch {
        continue; // another process took it
      }
      const payload = readEntry(file);
      if (payload === undefined) {
        removeQuietly(file); // unreadable: it cannot be delivered, and must not come back
        continue;
      }
      taken.push({ payload, file });
    }
    return taken;
  }

  /** done forgets a delivered (or finally dropped) entry. */
  done(spooled: SpooledPayload): void {
    removeQuietly(spooled.file);
  }

  /** release gives a claimed entry back, for this or another process to deliver later. */
  release(spooled: { file: string }): void {
    try {
      fs.renameSync(spooled.file, spooled.file.replace(/\.claimed-\d+$/, ''));
    } catch {
      // Already gone.
    }
  }

  /** usage: entries and bytes on disk, claimed ones included. */
  usage(): { entries: number; bytes: number } {
    let entries = 0;
    let bytes = 0;
    for (const file of this.allEntries()) {
      entries += 1;
      bytes += file.size;
    }
    return { entries, bytes };
  }

  /** pending says whether a destination has entries waiting (not claimed). */
  pending(destinationId: string): boolean {
    return listSorted(this.destinationDir(destinationId, false)).some((n) => ENTRY.test(n));
  }

  private destinationDir(destinationId: string, create = true): string {
    const dir = path.join(this.dir, crypto.createHash('sha256').update(destinationId).digest('hex').slice(0, 16));
    if (create && !fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'destination'), `${destinationId}\n`);
    }
    return dir;
  }

  private allEntries(): { file: string; name: string; size: number }[] {
    const found: { file: string; name: string; size: number }[] = [];
    for (const sub of listSorted(this.dir)) {
      const dir = path.join(this.dir, sub);
      for (const name of listSorted(dir)) {
        if (!ENTRY.test(name) && !CLAIMED.test(name)) continue;
        const file = path.join(dir, name);
        try {
          found.push({ file, name, size: fs.statSync(file).size });
        } catch {
          // Delivered meanwhile.
        }
      }
    }
    return found;
  }

  /** evictBeyond deletes the oldest unclaimed entries, across destinations, until the spool fits. */
  private evictBeyond(maxBytes: number): number {
    const entries = this.allEntries();
    let bytes = entries.reduce((sum, e) => sum + e.size, 0);
    let evicted = 0;
    for (const entry of entries.filter((e) => ENTRY.test(e.name)).sort((a, b) => a.name.localeCompare(b.name))) {
      if (bytes <= maxBytes) break;
      removeQuietly(entry.file);
      bytes -= entry.size;
      evicted += 1;
    }
    return evicted;
  }

  private releaseDeadClaims(): void {
    for (const entry of this.allEntries()) {
      const owner = CLAIMED.exec(entry.name)?.[1];
      if (owner !== undefined && !isAlive(Number(owner))) this.release(entry);
    }
  }
}

function readEntry(file: string): ProfilePayload | undefined {
  try {
    const entry = fs.readFileSync(file);
    const length = entry.readUInt32BE(0);
    const header = JSON.parse(entry.subarray(4, 4 + length).toString('utf8')) as Omit<ProfilePayload, 'bytes'> & { destination?: string };
    delete header.destination;
    return { ...header, bytes: entry.subarray(4 + length) };
  } catch {
    return undefined;
  }
}

function listSorted(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone.
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
