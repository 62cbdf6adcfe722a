#include "textflag.h"

// func Write(addr *byte)
TEXT ·Write(SB),NOSPLIT,$0-8
	MOVQ	addr+0(FP), AX
	// PREFETCHW 0(AX), 64(AX), 128(AX), 192(AX), which the Go assembler does not spell:
	// 0F 0D /1 with an 8-bit (0x48) or 32-bit (0x88) displacement.
	BYTE	$0x0F; BYTE $0x0D; BYTE $0x08
	BYTE	$0x0F; BYTE $0x0D; BYTE $0x48; BYTE $0x40
	BYTE	$0x0F; BYTE $0x0D; BYTE $0x88; LONG $0x00000080
	BYTE	$0x0F; BYTE $0x0D; BYTE $0x88; LONG $0x000000c0
	RET
