// A small SVG line chart: one path per line, the newest point at the
// right edge, the x axis growing with the samples up to the window, the y axis from 0 to the largest value shown. No chart
// library: the page loads nothing but its own script and style, and
// the CSP (default-src 'self') allows nothing else. Colours come from
// classes in admin.css (.s0, .s1, .s2), never from inline styles.
import type { Series } from "./live";

const SVG = "http://www.w3.org/2000/svg";
const W = 300;
const H = 80;
const TOP = 10; // room for the label of the top value

export class Chart {
  private readonly paths: SVGPathElement[];
  private readonly label: SVGTextElement;

  constructor(
    private readonly svg: SVGSVGElement,
    private readonly series: Series,
    private readonly formatValue: (v: number) => string,
  ) {
    const grid = document.createElementNS(SVG, "line");
    grid.setAttribute("class", "grid");
    grid.setAttribute("x1", "0");
    grid.setAttribute("x2", String(W));
    grid.setAttribute("y1", String(TOP));
    grid.setAttribute("y2", String(TOP));
    svg.append(grid);
    this.paths = series.lines.map((_, i) => {
      const p = document.createElementNS(SVG, "path");
      p.setAttribute("class", `line s${i}`);
      svg.append(p);
      return p;
    });
    this.label = document.createElementNS(SVG, "text");
    this.label.setAttribute("class", "label");
    this.label.setAttribute("x", "2");
    this.label.setAttribute("y", "8");
    svg.append(this.label);
  }

  /** draw redraws every line from the series. */
  draw(): void {
    let top = 0;
    for (const l of this.series.lines) for (const v of l) if (v !== undefined && Number.isFinite(v)) top = Math.max(top, v);
    const scale = top > 0 ? (H - TOP) / top : 0;
    // The x axis spans the samples held, at least a minute's (30) and at
    // most the series' window, so that a page opened a moment ago does
    // not squeeze its first points into the right edge.
    const held = Math.max(0, ...this.series.lines.map((l) => l.length));
    const step = W / Math.max(1, Math.min(this.series.size, Math.max(30, held)) - 1);
    this.series.lines.forEach((l, i) => {
      const x0 = W - (l.length - 1) * step;
      let d = "";
      let pen = false;
      l.forEach((v, j) => {
        if (v === undefined || !Number.isFinite(v)) {
          pen = false;
          return;
        }
        const x = (x0 + j * step).toFixed(1);
        const y = (H - v * scale).toFixed(1);
        d += `${pen ? "L" : "M"}${x} ${y}`;
        pen = true;
      });
      this.paths[i].setAttribute("d", d);
    });
    this.label.textContent = top > 0 ? this.formatValue(top) : "";
  }
}
