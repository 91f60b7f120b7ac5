#!/usr/bin/env bash
# /proc/cpuinfo of the board an emulated CPU stands for, written to ROOT/proc/cpuinfo.
#
# Why: qemu-user 7.2 passes the host's /proc/cpuinfo (x86) through to the aarch64 process.
# ai-edge-litert >= 2.2 starts XNNPACK, whose cpuinfo library parses that file for ARM cores
# ("CPU part"); finding none it dereferences NULL inside Interpreter() (SIGSEGV, si_addr 0x8,
# right after reading /proc/cpuinfo and /sys/devices/system/cpu). A real Pi's kernel writes
# the lines below, so this is an artefact of the emulator, not of the wheel. qemu's -L prefix
# maps absolute paths that exist under ROOT, /proc/cpuinfo included.
#   usage: cpuinfo.sh ROOT cortex-a72|cortex-a76|max
set -euo pipefail
ROOT=${1:?usage: cpuinfo.sh ROOT CPU}
case "${2:?usage: cpuinfo.sh ROOT CPU}" in
    # Raspberry Pi 4: Cortex-A72, ARMv8.0-A (no dotprod, fp16 arithmetic or LSE atomics)
    cortex-a72) part=0xd08 variant=0x0 rev=3 model="Raspberry Pi 4 Model B Rev 1.4" hw=BCM2835
        features="fp asimd evtstrm crc32 cpuid" ;;
    # Raspberry Pi 5: Cortex-A76, ARMv8.2-A (dotprod, fp16, LSE atomics)
    cortex-a76) part=0xd0b variant=0x4 rev=1 model="Raspberry Pi 5 Model B Rev 1.0" hw=BCM2712
        features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
    # qemu's "max" has every feature it emulates; it reports itself as a Neoverse-class part
    max) part=0xd0c variant=0x0 rev=0 model="qemu max" hw=qemu
        features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp sve i8mm bf16" ;;
    *) echo "cpuinfo.sh: unknown CPU '$2' (cortex-a72, cortex-a76, max)" >&2; exit 64 ;;
esac
mkdir -p "$ROOT/proc"
{
    for i in 0 1 2 3; do
        printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\n' "$i" "$features"
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\n' "$variant"
        printf 'CPU part\t: %s\nCPU revision\t: %s\n\n' "$part" "$rev"
    done
    printf 'Hardware\t: %s\nModel\t\t: %s\n' "$hw" "$model"
} >"$ROOT/proc/cpuinfo"
