/** A silent libp2p component logger, for tests that build libp2p's objects (a noise stream) by hand. */
export function silentLog (): void {}
silentLog.trace = (): void => {}
silentLog.error = (): void => {}
silentLog.enabled = false
silentLog.newScope = (): typeof silentLog => silentLog
