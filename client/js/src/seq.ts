/** What to do with a message, given the channel's lastSeq. */
export type SeqVerdict = "deliver" | "duplicate" | "gap";

/**
 * judgeSeq applies PROTOCOL.md §12: a message whose seq is at most lastSeq
 * was seen and is dropped; lastSeq+1 is delivered; anything further means
 * a gap, which the client repairs by resubscribing from lastSeq rather than
 * delivering out of order.
 */
export function judgeSeq(lastSeq: number, seq: number): SeqVerdict {
  if (seq <= lastSeq) return "duplicate";
  if (seq === lastSeq + 1) return "deliver";
  return "gap";
}
