// The demo chat in Debian's Chromium against a real `herald serve`: two
// users chat, one goes offline and both keep typing, a reload during the
// outage, and a token that expires mid-session.
import { describe, expect, it } from "vitest";
import { login, type Row, rows, send } from "./demo-page.js";
import { browserSuite, eventually } from "./harness.js";

/** texts are the rows' texts; exactlyOnceInOrder checks the seqs too. */
const texts = (rs: Row[]) => rs.map((r) => r.text);

function exactlyOnceInOrder(rs: Row[]): void {
  const seqs = rs.map((r) => r.seq);
  expect(seqs.every((s) => s !== null), "every message has its seq").toBe(true);
  expect(seqs).toEqual([...seqs].sort((a, b) => a! - b!));
  expect(new Set(seqs).size).toBe(seqs.length);
  expect(new Set(rs.map((r) => r.id)).size).toBe(rs.length);
}

const suite = browserSuite(["--demo-token-ttl", "8s", "--token-expiry-warning", "5s"]);

describe("demo chat in Chromium", () => {
  it("two users chat, with typing, who is online, and delivered then read ticks", async () => {
    const { page: alice } = await suite.pages.open("alice");
    const { page: bob } = await suite.pages.open("bob");
    await login(alice, suite.herald.url, "alice1", "room1");
    await login(bob, suite.herald.url, "bob1", "room1");
    await eventually(() => alice.getByTestId("online").textContent(), (t) => expect(t).toContain("bob1"));

    await bob.getByTestId("text").pressSequentially("hel");
    await eventually(() => alice.getByTestId("typing").textContent(), (t) => expect(t).toBe("bob1 is typing…"));
    await send(bob, "hello alice");
    await send(alice, "hi bob");
    for (const p of [alice, bob]) {
      await eventually(() => rows(p), (rs) => expect(texts(rs)).toEqual(["hello alice", "hi bob"]));
    }
    // Bob has the room open: alice's message goes to read.
    await eventually(() => rows(alice), (rs) => expect(rs.find((r) => r.text === "hi bob")?.state).toBe("read"));
    await eventually(() => rows(bob), (rs) => expect(rs.find((r) => r.text === "hello alice")?.state).toBe("read"));

    // Bob looks at another room: alice's next message is delivered, not
    // read, until he comes back to this one.
    await bob.getByTestId("rooms").locator("[data-room=lobby]").click();
    await bob.getByTestId("room-title").filter({ hasText: "# lobby" }).waitFor();
    await send(alice, "still there?");
    await eventually(() => rows(alice), (rs) => expect(rs.find((r) => r.text === "still there?")?.state).toBe("delivered"));
    await eventually(() => bob.getByTestId("rooms").locator("[data-room=room1] .unread").textContent(), (t) => expect(t).toBe("1"));
    await new Promise((r) => setTimeout(r, 1500)); // a receipts interval: still delivered only
    expect((await rows(alice)).find((r) => r.text === "still there?")?.state).toBe("delivered");
    await bob.getByTestId("rooms").locator("[data-room=room1]").click();
    await eventually(() => rows(alice), (rs) => expect(rs.find((r) => r.text === "still there?")?.state).toBe("read"));
  });

  it("one user offline, both keep typing: back online, every message once, in order, with ticks", async () => {
    const { page: alice, context: aliceCtx } = await suite.pages.open("alice");
    const { page: bob } = await suite.pages.open("bob");
    await login(alice, suite.herald.url, "alice2", "room2");
    await login(bob, suite.herald.url, "bob2", "room2");
    await send(alice, "before");
    await eventually(() => rows(bob), (rs) => expect(texts(rs)).toEqual(["before"]));

    await aliceCtx.setOffline(true);
    await eventually(() => alice.getByTestId("conn").textContent(), (t) => expect(t).toBe("offline"));
    for (let i = 1; i <= 3; i++) {
      await send(alice, `alice offline ${i}`);
      await send(bob, `bob meanwhile ${i}`);
    }
    const aliceOffline = await rows(alice);
    expect(aliceOffline.filter((r) => r.state === "sending").map((r) => r.text)).toEqual(["alice offline 1", "alice offline 2", "alice offline 3"]);
    expect(texts(aliceOffline)).not.toContain("bob meanwhile 1");
    await expect(alice.getByTestId("banner").textContent()).resolves.toContain("3 message(s) will be sent");
    await eventually(() => rows(bob), (rs) => expect(texts(rs)).toEqual(["before", "bob meanwhile 1", "bob meanwhile 2", "bob meanwhile 3"]));

    await aliceCtx.setOffline(false);
    const want = ["before", "bob meanwhile 1", "bob meanwhile 2", "bob meanwhile 3", "alice offline 1", "alice offline 2", "alice offline 3"];
    for (const p of [alice, bob]) {
      const rs = await eventually(() => rows(p), (rs) => expect(texts(rs)).toEqual(want));
      exactlyOnceInOrder(rs);
    }
    await eventually(
      () => rows(alice),
      (rs) => expect(rs.filter((r) => r.from === "alice2").map((r) => r.state)).toEqual(["read", "read", "read", "read"]),
    );
    await eventually(
      () => rows(bob),
      (rs) => expect(rs.filter((r) => r.from === "bob2").map((r) => r.state)).toEqual(["read", "read", "read"]),
    );
    // Both pages agree on every seq and id.
    expect((await rows(alice)).map((r) => [r.seq, r.id])).toEqual((await rows(bob)).map((r) => [r.seq, r.id]));
  });

  it("a reload during the outage loses nothing and sends nothing twice", async () => {
    const { page: alice, context: aliceCtx } = await suite.pages.open("alice");
    const { page: bob } = await suite.pages.open("bob");
    await login(alice, suite.herald.url, "alice3", "room3");
    await login(bob, suite.herald.url, "bob3", "room3");
    await send(bob, "are you there?");
    await eventually(() => rows(alice), (rs) => expect(texts(rs)).toEqual(["are you there?"]));
    // The service worker must hold the page before the network goes.
    await alice.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 15000 });

    await aliceCtx.setOffline(true);
    await eventually(() => alice.getByTestId("conn").textContent(), (t) => expect(t).toBe("offline"));
    await send(alice, "typed offline 1");
    await send(alice, "typed offline 2");
    await send(bob, "hello?");
    await alice.reload();
    // Still offline after the reload: the cached conversation and the two unsent messages.
    await eventually(() => rows(alice), (rs) => {
      expect(texts(rs)).toEqual(["are you there?", "typed offline 1", "typed offline 2"]);
      expect(rs.slice(1).map((r) => r.state)).toEqual(["sending", "sending"]);
    });
    await expect(alice.getByTestId("conn").textContent()).resolves.toBe("offline");
    // The SDK's outbox holds them in IndexedDB.
    const outbox = await alice.evaluate(
      () =>
        new Promise<string>((resolve, reject) => {
          const open = indexedDB.open("herald-demo");
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const get = open.result.transaction("kv", "readonly").objectStore("kv").get("alice3:outbox");
            get.onsuccess = () => resolve(String(get.result));
            get.onerror = () => reject(get.error);
          };
        }),
    );
    expect((JSON.parse(outbox) as { payload: { text: string } }[]).map((f) => f.payload.text)).toEqual(["typed offline 1", "typed offline 2"]);

    await aliceCtx.setOffline(false);
    const want = ["are you there?", "hello?", "typed offline 1", "typed offline 2"];
    for (const p of [alice, bob]) {
      const rs = await eventually(() => rows(p), (rs) => expect(texts(rs)).toEqual(want));
      exactlyOnceInOrder(rs);
    }
    await eventually(
      () => rows(alice),
      (rs) => expect(rs.filter((r) => r.from === "alice3").map((r) => r.state)).toEqual(["read", "read"]),
    );
    expect((await rows(alice)).map((r) => [r.seq, r.id])).toEqual((await rows(bob)).map((r) => [r.seq, r.id]));
  });

  it("refreshes a token that expires mid-session without reconnecting or losing a message", async () => {
    const { page: alice } = await suite.pages.open("alice");
    const { page: bob } = await suite.pages.open("bob");
    await login(alice, suite.herald.url, "alice4", "room4");
    await login(bob, suite.herald.url, "bob4", "room4");
    const connections = await suite.herald.metric("herald_connections_total");
    // Tokens last 8 s and are refreshed 5 s before: 14 s of chat crosses
    // the first token's expiry and the second's.
    const want: string[] = [];
    for (let i = 1; i <= 14; i++) {
      const text = `tick ${i}`;
      want.push(text);
      await send(i % 2 ? alice : bob, text);
      await new Promise((r) => setTimeout(r, 1000));
    }
    for (const p of [alice, bob]) {
      const rs = await eventually(() => rows(p), (rs) => expect(texts(rs)).toEqual(want));
      exactlyOnceInOrder(rs);
    }
    // An unrefreshed connection would have been closed with 4001 and come back as a new one.
    expect(await suite.herald.metric("herald_connections_total")).toBe(connections);
    await expect(alice.getByTestId("conn").textContent()).resolves.toBe("online");
  });
});
