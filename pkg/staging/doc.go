// Package staging carries out an update on the board: it stages a release
// into /next, verifies every file by SHA-256 on the board, and swaps /next
// into the app folder (main_dir, /project by default), keeping the replaced
// version in /prev for revert.
//
// The layout on the board's flash:
//
//	/<main_dir>/.version          the running app and its version
//	/next/.version_on_reboot      a release being staged; its files may be partial
//	/next/.version                a release staged and verified in full
//	/prev/.version                the version the last swap replaced
//	/otaflash_helpers.py          the helper functions, kept between runs
//
// A release becomes complete by one rename, .version_on_reboot to .version,
// after every file is verified. The swap then renames the app folder to /prev
// and /next to the app folder; it never renames a folder over an existing
// one, which fails on FAT and on non-empty littlefs folders. Whatever
// operation a power cut interrupts, the flash holds a state from which the
// recovery rules in board/otaflash_recover.py reach the old or the new
// version: a /next with .version is swapped in, a /next without it is never
// swapped in, an app folder missing between the two renames is restored from
// the complete /next (or /prev), and a /prev without .version is a partial
// removal and is removed. When the app folder has no .version at the swap,
// it is removed instead of moved to /prev, so /prev keeps the last complete
// version. The same rules run on the host at the start of every command and,
// once installed, from boot.py before main.py.
package staging
