/**
 * Orders request receipts against file-system checks, so that one check can
 * answer every request received before it was made.
 *
 * A request is stamped when its head is parsed ({@linkcode stampReceipt}); a
 * check records {@linkcode receiptsSoFar} when it is made. A check whose
 * record is at least a request's stamp was made after that request arrived:
 * what it saw was the state at some moment between the request's arrival and
 * its response, which is all a client can ask of a read (the read is
 * linearizable). A request received after the check gets a higher stamp and a
 * fresh check, so a change made before it arrived (a PUT answered here or by
 * another process) is always seen. The clock is per isolate: each worker
 * orders its own requests.
 *
 * @module
 */

let receipts = 0;

/** Stamps a request as received now; returns its stamp. */
export function stampReceipt(): number {
  return ++receipts;
}

/** The stamp of the latest request received: a check made now serves every request up to it. */
export function receiptsSoFar(): number {
  return receipts;
}
