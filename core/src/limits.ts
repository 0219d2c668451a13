/**
 * The size limits every boundary shares, in one import. MAX_RESOURCE_BYTES lives with validation in
 * @ursa/proto (every boundary validates through it) and is re-exported here for the planes: it is what the
 * KDS server relies on to fit any accepted resource in one frame (`MAX_FRAME_BYTES`, 16 times larger).
 */
export { MAX_RESOURCE_BYTES, jsonByteLength, formatBytes } from '@ursa/proto';

/**
 * What one zone may have staged on the global at a time: the inventory snapshot it is uploading (zone ->
 * global), kept in the database until its `complete` frame. A zone of 10,000 proxies stages about 10,000
 * Dataplanes of a few KiB (some 30 MiB): these bounds leave it five times the room and keep a zone with a
 * valid token from filling the database. Beyond them the global ends the session with the KDS error
 * `limit-exceeded` (HTTP 413 on long-poll) naming the limit, and drops what was staged.
 */
export const MAX_STAGED_RESOURCES = 50_000;
export const MAX_STAGED_BYTES = 256 * 1024 * 1024;
/**
 * A staged snapshot that received nothing for this long is abandoned (its zone stopped uploading: every new
 * session starts its upload over) and is dropped by the global's periodic sweep. A live upload sends a frame
 * per Ack, seconds apart at most.
 */
export const STAGING_TTL_MS = 10 * 60 * 1000;

export interface StagingLimits {
  readonly resources: number;
  readonly bytes: number;
}
export const STAGING_LIMITS: StagingLimits = { resources: MAX_STAGED_RESOURCES, bytes: MAX_STAGED_BYTES };
