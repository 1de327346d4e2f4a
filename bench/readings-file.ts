// The core bench's user file: a `readings` table of about `mb` MiB of rows (~70 bytes a row).
import Database from 'better-sqlite3'

export function userFile (path: string, mb: number): string {
  const db = new Database(path)
  db.exec('CREATE TABLE readings (id INTEGER PRIMARY KEY, sensor TEXT, at INTEGER, value REAL, note TEXT)')
  const ins = db.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (?, ?, ?, ?)')
  const rows = Math.round(mb * 1024 * 1024 / 70)
  db.transaction(() => { for (let i = 0; i < rows; i++) ins.run(`sensor-${i % 97}`, 1_700_000_000 + i, i * 0.25, `reading number ${i} of the benchmark`) })()
  db.close()
  return path
}
