// Driving the demo chat's page: what the browser tests of the demo and
// of the admin page share.
import type { Page } from "playwright-core";

export interface Row {
  seq: number | null;
  id: string;
  from: string;
  text: string;
  state: string | null;
}

/** rows reads the messages the page shows, top to bottom. */
export function rows(page: Page): Promise<Row[]> {
  return page.$$eval("#messages [data-testid=message]", (els) =>
    els.map((e) => {
      const el = e as HTMLElement;
      return {
        seq: el.dataset.seq ? Number(el.dataset.seq) : null,
        id: el.dataset.id ?? "",
        from: el.dataset.from ?? "",
        text: el.querySelector(".text")?.textContent ?? "",
        state: el.dataset.state ?? null,
      };
    }),
  );
}

/** login signs in as name and opens room, each test its own. */
export async function login(page: Page, url: string, name: string, room: string): Promise<void> {
  await page.goto(url);
  await page.getByTestId("name").fill(name);
  await page.getByTestId("join").click();
  await page.getByTestId("conn").filter({ hasText: "online" }).waitFor();
  await page.getByTestId("room-name").fill(room);
  await page.getByTestId("room-join").click();
  await page.getByTestId("room-title").filter({ hasText: `# ${room}` }).waitFor();
}

export async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId("text").fill(text);
  await page.getByTestId("send").click();
}
