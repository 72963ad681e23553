package images

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The pause executable: a static x86-64 Linux ELF file of 186 bytes, generated here rather than
// assembled, laid out as
//
//	offset   0  ELF header (64 bytes)
//	offset  64  one program header (56 bytes): load the whole file, readable and executable
//	offset 120  a kernel struct sigaction (32 bytes) ignoring a signal
//	offset 152  code (34 bytes), the entry point
//
// The code sets SIGCHLD to SIG_IGN, so that the kernel reaps the children of the process at once
// (in a pod sharing its PID namespace, processes orphaned by other containers are reparented to
// the pause process as PID 1 and would otherwise stay zombies), then loops on pause(2) forever.
// No signal has a handler, so pause never returns. As PID 1 of a PID namespace the process is
// sent only the signals it handles, apart from SIGKILL and SIGSTOP from an ancestor namespace:
// SIGTERM does not stop it, and containerd stops sandboxes with SIGKILL.
const (
	// pauseBase is the virtual address the file is mapped at: the traditional x86-64 executable
	// base, above vm.mmap_min_addr and below 4 GiB, so that addresses fit 32-bit immediates.
	pauseBase = 0x400000

	// x86-64 Linux system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
	sysRtSigaction = 13
	sysPause       = 34

	// sigchld is SIGCHLD's number on x86-64 Linux.
	sigchld = 17
	// sigIgn is the SIG_IGN disposition.
	sigIgn = 1
	// sigsetSize is the size of the kernel's sigset_t, which rt_sigaction(2) requires as its
	// fourth argument.
	sigsetSize = 8
)

// kernelSigaction is struct sigaction as the x86-64 kernel's rt_sigaction(2) reads it (not the C
// library's layout): 32 bytes.
type kernelSigaction struct {
	Handler  uint64 // sa_handler: a handler address, SIG_DFL (0) or SIG_IGN (1)
	Flags    uint64 // sa_flags: none
	Restorer uint64 // sa_restorer: only used when a handler returns
	Mask     uint64 // sa_mask: signals blocked while a handler runs
}

// pauseELF returns the pause executable described above.
func pauseELF() ([]byte, error) {
	ehdrSize := binary.Size(elf.Header64{})    // 64
	phdrSize := binary.Size(elf.Prog64{})      // 56
	actSize := binary.Size(kernelSigaction{})  // 32
	actAddr := pauseBase + ehdrSize + phdrSize // where the sigaction struct is mapped
	entryAddr := actAddr + actSize             // where the code starts
	code := pauseCode(uint32(actAddr))
	fileSize := ehdrSize + phdrSize + actSize + len(code)

	hdr := elf.Header64{
		// e_ident: identification, independent of the rest of the header's layout.
		Ident: [elf.EI_NIDENT]byte{
			elf.ELFMAG[0], elf.ELFMAG[1], elf.ELFMAG[2], elf.ELFMAG[3], // magic "\x7fELF"
			elf.EI_CLASS:      byte(elf.ELFCLASS64),    // 64-bit objects
			elf.EI_DATA:       byte(elf.ELFDATA2LSB),   // little-endian
			elf.EI_VERSION:    byte(elf.EV_CURRENT),    // ELF version 1
			elf.EI_OSABI:      byte(elf.ELFOSABI_NONE), // System V ABI, which Linux uses
			elf.EI_ABIVERSION: 0,                       // no ABI version; the rest is padding
		},
		Type:      uint16(elf.ET_EXEC),    // e_type: a fixed-address executable (not PIE)
		Machine:   uint16(elf.EM_X86_64),  // e_machine: AMD x86-64
		Version:   uint32(elf.EV_CURRENT), // e_version: ELF version 1
		Entry:     uint64(entryAddr),      // e_entry: virtual address of the first instruction
		Phoff:     uint64(ehdrSize),       // e_phoff: the program header table follows this header
		Shoff:     0,                      // e_shoff: no section header table (not needed to run)
		Flags:     0,                      // e_flags: no processor-specific flags on x86-64
		Ehsize:    uint16(ehdrSize),       // e_ehsize: size of this header
		Phentsize: uint16(phdrSize),       // e_phentsize: size of one program header
		Phnum:     1,                      // e_phnum: one program header
		Shentsize: 0,                      // e_shentsize: no section headers
		Shnum:     0,                      // e_shnum: no section headers
		Shstrndx:  uint16(elf.SHN_UNDEF),  // e_shstrndx: no section name string table
	}
	load := elf.Prog64{
		Type:   uint32(elf.PT_LOAD),         // p_type: a segment mapped from the file
		Flags:  uint32(elf.PF_R | elf.PF_X), // p_flags: readable and executable, not writable
		Off:    0,                           // p_offset: map the file from its start (headers included)...
		Vaddr:  pauseBase,                   // p_vaddr: ...at the base address
		Paddr:  pauseBase,                   // p_paddr: unused on Linux; conventionally p_vaddr
		Filesz: uint64(fileSize),            // p_filesz: the whole file...
		Memsz:  uint64(fileSize),            // p_memsz: ...and no zero-filled memory beyond it
		Align:  0x1000,                      // p_align: page size; p_offset ≡ p_vaddr modulo it
	}
	act := kernelSigaction{Handler: sigIgn}

	b := make([]byte, 0, fileSize)
	for _, v := range []any{hdr, load, act} {
		var err error
		if b, err = binary.Append(b, binary.LittleEndian, v); err != nil {
			return nil, fmt.Errorf("encode pause executable: %w", err)
		}
	}
	return append(b, code...), nil
}

// pauseCode returns the machine code of the pause executable, given the address of a
// kernelSigaction setting SIG_IGN. The instruction encodings are from the Intel 64 and IA-32
// Architectures Software Developer's Manual, volume 2; system call arguments go in rdi, rsi,
// rdx, r10 (x86-64 System V kernel calling convention), the number in rax. Writing a 32-bit
// register zero-extends into the 64-bit one.
func pauseCode(actAddr uint32) []byte {
	// op appends a little-endian 32-bit immediate operand to an opcode.
	op := func(opcode []byte, imm uint32) []byte { return binary.LittleEndian.AppendUint32(opcode, imm) }
	return slices.Concat(
		op([]byte{0xb8}, sysRtSigaction),   // mov eax, 13      ; rt_sigaction(
		op([]byte{0xbf}, sigchld),          // mov edi, 17      ;   SIGCHLD,
		op([]byte{0xbe}, actAddr),          // mov esi, actAddr ;   &{SIG_IGN},
		[]byte{0x31, 0xd2},                 // xor edx, edx     ;   NULL,
		op([]byte{0x41, 0xba}, sigsetSize), // mov r10d, 8      ;   sizeof(sigset_t))
		[]byte{0x0f, 0x05},                 // syscall
		// loop:
		op([]byte{0xb8}, sysPause), // mov eax, 34      ; pause()
		[]byte{0x0f, 0x05},         // syscall
		[]byte{0xeb, 0xf7},         // jmp loop         ; rel8 -9: back over these 9 bytes
	)
}

// pauseImage returns the pod sandbox image: the pause executable at /pause, run as the
// conventional unprivileged 65535:65535.
func pauseImage() (v1.Image, error) {
	exe, err := pauseELF()
	if err != nil {
		return nil, err
	}
	layer, err := memoryLayer("pause", exe)
	if err != nil {
		return nil, err
	}
	return newImage(v1.Config{
		Entrypoint: []string{"/pause"},
		User:       "65535:65535",
	}, layer)
}
