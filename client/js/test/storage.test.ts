// The Storage adapters: AsyncStorageAdapter over an object of React
// Native's AsyncStorage shape, and IndexedDBStorage where the runtime has
// IndexedDB (browsers; Node has none, so there only its refusal is tested).
import { describe, expect, it } from "vitest";
import { type AsyncStorageLike, AsyncStorageAdapter } from "../src/asyncstorage.js";
import { type IDBFactoryLike, IndexedDBStorage } from "../src/indexeddb.js";
import type { Storage } from "../src/storage.js";

/** A Map with AsyncStorage's interface: what React Native hands the adapter. */
class MapAsyncStorage implements AsyncStorageLike {
  readonly data = new Map<string, string>();
  async getItem(k: string): Promise<string | null> {
    return this.data.get(k) ?? null;
  }
  async setItem(k: string, v: string): Promise<void> {
    this.data.set(k, v);
  }
  async removeItem(k: string): Promise<void> {
    this.data.delete(k);
  }
}

/** roundTrip runs the Storage contract on s. */
async function roundTrip(s: Storage): Promise<void> {
  expect(await s.get("herald:seq:chat.1")).toBeFalsy();
  await s.set("herald:seq:chat.1", "41");
  await s.set("herald:seq:chat.1", "42");
  await s.set("herald:outbox", '[{"id":"a"}]');
  expect(await s.get("herald:seq:chat.1")).toBe("42");
  expect(await s.get("herald:outbox")).toBe('[{"id":"a"}]');
  await s.delete("herald:seq:chat.1");
  await s.delete("herald:seq:chat.1"); // a missing key is not an error
  expect(await s.get("herald:seq:chat.1")).toBeFalsy();
  expect(await s.get("herald:outbox")).toBe('[{"id":"a"}]');
}

describe("AsyncStorageAdapter", () => {
  const cases: { name: string; prefix: string | undefined; stored: string }[] = [
    { name: "default prefix", prefix: undefined, stored: "herald:herald:outbox" },
    { name: "own prefix", prefix: "app1/", stored: "app1/herald:outbox" },
    { name: "no prefix", prefix: "", stored: "herald:outbox" },
  ];
  for (const c of cases) {
    it(`keeps the Storage contract with ${c.name}`, async () => {
      const as = new MapAsyncStorage();
      const s = new AsyncStorageAdapter(as, c.prefix);
      await roundTrip(s);
      expect([...as.data.keys()]).toEqual([c.stored]);
    });
  }

  it("leaves the app's own keys alone", async () => {
    const as = new MapAsyncStorage();
    await as.setItem("outbox", "the app's");
    const s = new AsyncStorageAdapter(as);
    await s.set("outbox", "the sdk's");
    await s.delete("outbox");
    expect(await as.getItem("outbox")).toBe("the app's");
  });

  it("refuses a missing store", () => {
    expect(() => new AsyncStorageAdapter(undefined as unknown as AsyncStorageLike)).toThrow(/AsyncStorage/);
  });
});

const idb = (globalThis as { indexedDB?: IDBFactoryLike }).indexedDB;

describe("IndexedDBStorage", () => {
  it("says clearly that there is no IndexedDB", () => {
    if (idb) return; // a runtime with IndexedDB: the tests below run instead
    expect(() => new IndexedDBStorage()).toThrow(/no IndexedDB/);
  });

  it.skipIf(!idb)("keeps the Storage contract, and keeps values across instances", async () => {
    const name = `herald-test-${Math.random().toString(36).slice(2)}`;
    const s = new IndexedDBStorage(name);
    await roundTrip(s);
    await s.close();
    const again = new IndexedDBStorage(name, idb);
    expect(await again.get("herald:outbox")).toBe('[{"id":"a"}]');
    await again.close();
  });
});
