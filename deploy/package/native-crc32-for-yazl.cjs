// Bundled in place of buffer-crc32 for yazl only (see bundle.ts): yazl gets buffer-crc32 with its
// `unsigned` given zlib's native crc32 where the runtime has one, as src/artifacts/zip-writer.ts
// does at run time for an unbundled install (it cannot reach yazl's copy inside a bundle).
'use strict';
const original = require('buffer-crc32');
const { nativeUnsignedCrc32 } = require('../../src/artifacts/native-crc32.ts');
if (nativeUnsignedCrc32 !== undefined) original.unsigned = nativeUnsignedCrc32;
module.exports = original;
