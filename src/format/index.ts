// Public surface of the index format, imported by the offline writer and the worker reader.
export { FormatError, isFormatError, type FormatErrorCode } from "./errors.ts";
export { sha256Hex, verifyObject, crc32, toHex, type ObjectDigest } from "./checksum.ts";
export { quantizeInt8, dequantizeInt8, signCodes, codeBytes, type Int8Vectors } from "./quantize.ts";
export {
  SHARD_MAGIC, HEADER_BYTES, SHARD_ALIGN, QUANTIZATION_CODES,
  encodeShard, readShardHeader, decodeShard, checkedShard, type Shard, type ShardHeader, type ShardInput,
} from "./shard.ts";
export {
  DOC_MAGIC, DOC_HEADER_BYTES, DOCS_PER_BLOCK,
  encodeDocBlock, readDocBlockHeader, checkDocBlock, docBlockIndexBytes, expectedDocBlockPrefix, readDocBlockIndex, byteRangeOf, decodeDocRecord, decodeDocBlock,
  type Doc, type DocBlockHeader, type DocBlockIndex,
} from "./docstore.ts";
export { INDEX_LIMITS } from "./limits.ts";
export { OBJECT_EXT, objectPath, createObjectRef, ObjectRefSchema, type ObjectKind, type ObjectRef } from "./objects.ts";
export {
  FORMAT_NAME, MANIFEST_VERSION, DELTA_MANIFEST_VERSION, READABLE_MAJORS, ManifestSchema, parseManifest, serializeManifest, flatShardRefs, type Manifest, type Partition, type DocBlockRef,
} from "./manifest.ts";
export {
  NAME_PATTERN, OBJECT_PATH_PATTERN, VERSION_PATTERN,
  validateName, validateVersion, validateObjectPath, indexPrefix, objectKey, manifestKey, pointerKey, versionIdOf,
} from "./r2-keys.ts";
export { PointerSchema, parsePointer, serializePointer, type Pointer } from "./pointer.ts";
export { BINARY_MAJOR, BINARY_MINOR, popcount } from "./binary.ts";
export {
  LEX_BUCKET_MAGIC, LEX_NORMS_MAGIC, LEX_HEADER_BYTES,
  termHash, bucketOf, lengthToByte, byteToLength, encodePostings, encodeLexicalBucket, decodeLexicalBucket, decodePostings, forEachPosting, decodeBlock, postingBlocks, blockCount, POSTING_BLOCK,
  encodeLexicalNorms, decodeLexicalNorms,
  type LexicalBucket, type LexicalTerm, type TermPostings, type PostingBlocks,
} from "./bm25.ts";
export { LexicalSectionSchema, type LexicalSection } from "./bm25-section.ts";
export {
  ID_BUCKET_MAGIC, ID_HEADER_BYTES, IDS_PER_BUCKET, IdIndexSchema, idBucketCount, idBucketOf, encodeIdBucket, decodeIdBucket,
  type IdIndex, type IdBucket,
} from "./id-index.ts";
export { KeyRecordSchema, parseKeyRecord, type KeyRecord, type KeyLimits, type Role } from "./api-key.ts";
export {
  FLOAT_ROWS, FLOAT_ROWS_HEADER_BYTES, encodeFloatRows, decodeFloatRows, type FloatRows, type FloatRowsKind, type RefineVectors,
} from "./float-rows.ts";
export { toFloat16Bits, float16Table, encodeFloat16 } from "./float16.ts";
export {
  INT4_PARTITION_HEADER_BYTES, INT4_PARTITION_MAGIC, INT4_PARTITION_SUFFIX, decodeInt4Partition, encodeInt4Partition, type Int4Partition,
} from "./int4-partition.ts";
export {
  FIELD_MAGIC, FIELD_HEADER_BYTES, FIELD_TYPES, encodeFieldColumns, decodeFieldColumns, checkFieldColumns, hasValue,
  type Column, type FieldColumns, type FieldSpec, type FieldType, type FieldValue,
} from "./field-columns.ts";
export { PARTITION_DOCS_MAGIC, encodePartitionDocs, decodePartitionDocs, type PartitionDocs } from "./partition-docs.ts";
export { FIELD_NAME_PATTERN, FieldsSectionSchema, type FieldsSection } from "./fields-section.ts";
export {
  STATIC_QUERY_MAGIC, STATIC_QUERY_HEADER_BYTES, STATIC_TABLE_INT8, decodeStaticQuery, type StaticQueryModel,
} from "./static-query.ts";
export { DeltaSectionSchema, deltaObjects, type DeltaSection, type DeltaLexical } from "./delta-section.ts";
export { TOMBSTONES_MAGIC, TOMBSTONES_HEADER_BYTES, encodeTombstones, decodeTombstones, isDeleted, type Tombstones } from "./tombstones.ts";
