/*
 * bcryptprimitives.dll for Wine 8: exports ProcessPrng only.
 *
 * Why this exists: since Go 1.22 the Go runtime on Windows loads ProcessPrng
 * from bcryptprimitives.dll in System32 at start-up (Windows 10 and later
 * have it). Wine 8, the Wine of Debian 12, has no such DLL, so every Go
 * program, ppsync.exe included, dies before main. This DLL, copied into the
 * test Wine prefix's system32 only, gives the runtime the function on top of
 * advapi32's SystemFunction036 (RtlGenRandom), which Wine has. It is test
 * tooling: it is never shipped, and real Windows never needs it.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll processprng.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
