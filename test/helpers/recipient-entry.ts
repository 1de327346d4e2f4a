// What recipient.test.ts's child (run as another user) imports, in one bundle (src-entry.ts's
// entryOf): it throws storage's StorageError into cli's resolveRecipient, and two bundles would be
// two copies of the class.
export { resolveRecipient } from '../../src/cli/confidential.js'
export { StorageError } from '../../src/storage/index.js'
