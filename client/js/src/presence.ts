import type { PresenceDiffFrame, PresenceMember, PresenceStateFrame } from "./frames.js";

/**
 * PresenceView is who is in a channel, as a Subscription with
 * `presence: true` knows it: the argument of its `presence` event.
 */
export interface PresenceView {
  /** How many users are present, from the server; exact also in count-only mode. */
  count: number;
  /**
   * The present users by user id, each with its connection count (a user
   * on a phone and a laptop is one member with connections 2) and the
   * token's info claim. Empty in count-only mode.
   */
  members: ReadonlyMap<string, PresenceMember>;
  /**
   * True while the channel has more users than the server's
   * presence_max_members (PROTOCOL.md §14): the server then sends counts
   * only, and members stays empty until a presence_state lists them again.
   */
  countOnly: boolean;
}

/**
 * Presence folds a channel's presence_state and presence_diff frames
 * (PROTOCOL.md §14) into one current view. A presence_state replaces
 * everything: presence is live state and never replayed, so the state
 * that follows a resubscribe after a reconnect is the whole truth and
 * whatever changed while the client was away is dropped with the old view.
 * A diff is applied by user id: joins add or replace, leaves remove; one
 * that repeats what the view already shows changes nothing.
 *
 * Between a disconnect and the next presence_state the view is the last
 * one known, so that a short network switch does not empty a member list
 * on screen; an app that wants to show it as stale watches the client's
 * state event.
 */
export class Presence implements PresenceView {
  /** How many users are present. */
  count = 0;
  /** Whether the server sends counts only (see PresenceView.countOnly). */
  countOnly = false;
  /** The present users by user id. */
  readonly members = new Map<string, PresenceMember>();

  /** Replaces the view with the one of f. */
  applyState(f: PresenceStateFrame): void {
    this.members.clear();
    this.count = f.count;
    this.countOnly = f.members === undefined;
    for (const m of f.members ?? []) this.members.set(m.userId, m);
  }

  /**
   * Applies diff f to the view; reports whether it changed. In count-only
   * mode only the count moves: a partial member list would mislead, and
   * the server sends a whole presence_state once the channel is small
   * enough to list again.
   */
  applyDiff(f: PresenceDiffFrame): boolean {
    const before = this.signature();
    this.count = f.count;
    if (!this.countOnly) {
      for (const id of f.leaves ?? []) this.members.delete(id);
      for (const m of f.joins ?? []) this.members.set(m.userId, m);
    }
    return this.signature() !== before;
  }

  /** Returns a copy of the view, safe to keep across later changes. */
  snapshot(): PresenceView {
    return { count: this.count, countOnly: this.countOnly, members: new Map(this.members) };
  }

  /** signature is the view as a string, to tell whether a frame changed it. */
  private signature(): string {
    return JSON.stringify([this.count, this.countOnly, [...this.members.values()]]);
  }
}
