/**
 * When a room fails, who is closed, and how the others reach the reloaded document: the whole
 * routine, in the order it runs.
 *
 * 1. `closeOnFailure` (the room calls it as it fails):
 *    - **A write failed** (`storage-failed`): every member is told why and closed (1011). They
 *      resync from the store when they reconnect, sending again what was not stored.
 *    - **An update broke the document, or took too long**: the document may hold part of it, so
 *      it reloads from the store, which never held any of it. Who answers for the update is told
 *      and closed (1007, or 1008 for one too slow): its sender, or the senders of parts that
 *      waited for it, and then the update's own sender is a bystander, closed with 1013 to send it
 *      again. So are members with a part that waits (the reloaded document lacks it). Every other
 *      member stays: anyone with write access could otherwise disconnect everyone at will.
 * 2. The registry drops the failed room and loads the document again (`RoomRegistry.reload`); the
 *    answerable sender's address pays for that load.
 * 3. `moveSurvivors` (the engine calls it): the members that stayed keep what they send in their
 *    backlog, what was stored before the failure still reaches them, and once the document has
 *    reloaded they join it, all of them, before what they sent meanwhile is handled.
 */
import type { Logger } from '../logger.js';
import { CLOSE } from '../websocket/close-codes.js';
import type { RoomMember } from './member.js';

/** Why a room failed, as the error code its members are told. */
export type FailureCode = 'storage-failed' | 'invalid-update' | 'update-too-slow';

/** What a failing room gives the routine. */
export interface FailingRoom<M> {
  readonly members: ReadonlySet<M>;
  /** Removes a member; the presence it published is removed for the others. */
  leave(member: M): void;
}

/** Who answers for a failure, and who stays for the reload. */
export interface Failure<M> {
  readonly code: FailureCode;
  readonly error: Error;
  /** Who is closed for it; empty when a write failed (then nobody stays). */
  readonly answerable: readonly M[];
  /** The update's own sender when others answer for it. */
  readonly bystander: M | null;
  /** Members with a part that waits in the failing document. */
  readonly waiting: readonly M[];
}

/** Closes who must go (see step 1); returns the members that stay for the reload. */
export function closeOnFailure<M extends RoomMember>(room: FailingRoom<M>, failure: Failure<M>, log: Logger): M[] {
  const { code, error, answerable, bystander, waiting } = failure;
  log.error(
    {
      err: error,
      code,
      connections: room.members.size,
      answerable: answerable.map((member) => ({ connection: member.id, user: member.ticket.identity, address: member.ticket.remoteAddress })),
      bystander: bystander?.id,
    },
    answerable.length > 0
      ? 'refused an update that broke the document or took too long: who sent it is closed, and the document reloads from the store for the others'
      : 'room failed; unsaved changes are not acknowledged and clients will resync',
  );
  if (answerable.length === 0) {
    for (const member of room.members) member.refuse(code, 'the document could not be saved; reconnect to resync', CLOSE.internalError);
    return [];
  }
  const refused = code === 'update-too-slow' ? `${error.message} and was refused` : 'an update broke the document; reconnect to resync';
  for (const member of answerable) {
    member.refuse(code, refused, code === 'update-too-slow' ? CLOSE.policyViolation : CLOSE.invalidPayload);
    room.leave(member);
  }
  if (bystander !== null) {
    bystander.close(CLOSE.tryAgainLater, 'an edit that waited for this update was refused, and the update with it; reconnect to resync');
    room.leave(bystander);
  }
  const waited = 'what this connection sent waits for edits the server has not received, and the document reloads; reconnect to resync';
  for (const member of waiting) {
    if (!member.isOpen) continue;
    member.refuse('waiting-dropped', waited, CLOSE.tryAgainLater);
    room.leave(member);
  }
  return [...room.members];
}

/** What moving survivors needs of a member (a `Connection`). */
export interface Survivor {
  readonly isOpen: boolean;
  /** Starts keeping what it sends until it is in a room again. */
  startWaiting(first: null): void;
  close(code: number, reason: string): void;
}

/** The engine's steps of moving survivors into the reloaded room `R`. */
export interface MoveSteps<M, R> {
  /** Takes the member out of the failed room, without a word. */
  leaveFailed(member: M): void;
  /** Has the member join `room`; false if it did not stay (it closed, or `room` failed too). */
  enter(member: M, room: R): boolean;
  /** Removes the presence of a member that closed before it could join. */
  dropPresence(room: R, member: M): void;
  /** Handles what the member sent while the document reloaded. */
  resume(member: M): void;
  /** The reloaded room is in: if everyone left meanwhile, it starts its grace period. */
  release(room: R): void;
}

/** Step 3: the survivors wait for `reloaded`, then move into it (see the top of this file). */
export function moveSurvivors<M extends Survivor, R>(survivors: readonly M[], reloaded: Promise<R>, steps: MoveSteps<M, R>, log: Logger, name: string): void {
  for (const member of survivors) member.startWaiting(null);
  reloaded.then(
    (room) => {
      const moved: M[] = [];
      for (const member of survivors) {
        steps.leaveFailed(member);
        if (member.isOpen && steps.enter(member, room)) moved.push(member);
      }
      // One that was closing never joins: its presence, copied with everyone's, goes, and the
      // others, all in now, are told.
      for (const member of survivors) if (!member.isOpen) steps.dropPresence(room, member);
      // All are in before what they sent meanwhile is handled: if that breaks the reloaded
      // document, the others are in it, and move again.
      for (const member of moved) steps.resume(member);
      steps.release(room);
    },
    (error: unknown) => {
      log.error({ err: error, doc: name }, 'could not reload a document after an update broke it');
      for (const member of survivors) member.close(CLOSE.internalError, 'the document could not be reloaded; reconnect to resync');
    },
  );
}
