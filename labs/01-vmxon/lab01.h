/* Lab 01 (VMXON and the first VM exit): its per-vCPU state and the functions its files provide.
 * Provided, not edited: the grader builds every submission with its own copy of this file. */
#pragma once
#include "vcpu.h"

/* The steps of lab 01, implemented by the student (labs/01-vmxon). */
bool vmx_supported(void);
void vmx_enable_feature_control(void);
void vmx_set_fixed_bits(void);
void vmx_on(struct vcpu *v);
void vmcs_load(struct vcpu *v);
void vmcs_setup_controls(struct vcpu *v);
void vmcs_setup_host(struct vcpu *v);
void vmcs_setup_guest(struct vcpu *v);
void vcpu_run(struct vcpu *v);
void vmx_skip_instruction(struct vcpu *v);
void vmx_off(struct vcpu *v);
