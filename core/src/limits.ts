/**
 * The size limits every boundary shares, in one import. MAX_RESOURCE_BYTES lives with validation in
 * @ursa/proto (every boundary validates through it) and is re-exported here for the planes: it is what the
 * KDS server relies on to fit any accepted resource in one frame (`MAX_FRAME_BYTES`, 16 times larger).
 */
export { MAX_RESOURCE_BYTES, jsonByteLength, formatBytes } from '@ursa/proto';
