// sharp (libvips) on the same corpus and operations as benches/transforms.rs, single-threaded,
// one JSON line per (operation, source): median milliseconds and output bytes.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";

sharp.concurrency(1);
sharp.cache(false);

const dir = process.argv[2];
const runs = Number(process.env.BENCH_RUNS ?? 7);
const operations = [
  ["fit 400x300 jpeg q80", (s) => s.resize(400, 300, { fit: "inside" }).jpeg({ quality: 80 })],
  ["cover 800x600 webp q80", (s) => s.resize(800, 600, { fit: "cover" }).webp({ quality: 80 })],
  // Pixzoo's blur=20 is a Gaussian of sigma 10.
  ["blur full-size jpeg", (s) => s.blur(10).jpeg({ quality: 80 })],
  ["cover 800x600 avif", (s) => s.resize(800, 600, { fit: "cover" }).avif({ quality: 80 })],
];

const files = readdirSync(dir).filter((f) => f.startsWith("corpus-")).sort();
for (const file of files) {
  const input = readFileSync(join(dir, file));
  for (const [op, apply] of operations) {
    const times = [];
    let bytes = 0;
    for (let i = 0; i < runs; i++) {
      const started = process.hrtime.bigint();
      const output = await apply(sharp(input)).toBuffer();
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      bytes = output.length;
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    console.log(JSON.stringify({ engine: "sharp", op, source: file, median_ms: Number(median.toFixed(2)), bytes }));
  }
}
