/** Terminal output for the demo: money, tables and a progress bar. */

/** Minor units to a readable amount: 123456 -> "1,234.56". */
export function money(minor: bigint): string {
  const negative = minor < 0n;
  const abs = negative ? -minor : minor;
  const units = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = (abs % 100n).toString().padStart(2, "0");
  return `${negative ? "-" : ""}${units}.${cents}`;
}

export function table(headers: string[], rows: string[][], rightAligned: number[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        rightAligned.includes(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0),
      )
      .join("  ");
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

/** A progress bar that redraws in place on a terminal and prints quarter marks otherwise. */
export function progressBar(
  total: number,
  out: NodeJS.WriteStream = process.stdout,
): (done: number, note: string) => void {
  let lastQuarter = -1;
  return (done, note) => {
    if (out.isTTY) {
      const width = 30;
      const filled = Math.round((done / total) * width);
      out.write(
        `\r  [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(done).padStart(String(total).length)}/${total}  ${note}   `,
      );
      if (done === total) out.write("\n");
      return;
    }
    const quarter = Math.floor((done / total) * 4);
    if (quarter !== lastQuarter) {
      lastQuarter = quarter;
      out.write(`  ${String(done).padStart(String(total).length)}/${total}  ${note}\n`);
    }
  };
}
