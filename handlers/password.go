package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type changePassword struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// ChangePassword handles POST /auth/password/change.
func (h *Auth) ChangePassword(c *gin.Context) (int, any, error) {
	id, err := caller(c)
	if err != nil {
		return 0, nil, err
	}
	var in changePassword
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	if err := h.Accounts.ChangePassword(c.Request.Context(), id, in.CurrentPassword, in.NewPassword); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// ForgotPassword handles POST /auth/password/forgot; the answer is the same
// whether or not the address exists.
func (h *Auth) ForgotPassword(c *gin.Context) (int, any, error) {
	var in emailOnly
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	token, err := h.Accounts.ForgotPassword(c.Request.Context(), in.Email)
	if err != nil {
		return 0, nil, err
	}
	out := gin.H{"message": "If the address is registered, a reset link is on its way"}
	if token != "" { // only when the service exposes tokens
		out["resetToken"] = token
	}
	return http.StatusAccepted, out, nil
}

type resetPassword struct {
	Token       string `json:"token"`
	NewPassword string `json:"newPassword"`
}

// ResetPassword handles POST /auth/password/reset.
func (h *Auth) ResetPassword(c *gin.Context) (int, any, error) {
	var in resetPassword
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	if err := h.Accounts.ResetPassword(c.Request.Context(), in.Token, in.NewPassword); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
