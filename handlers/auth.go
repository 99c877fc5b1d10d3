package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"apisec/app/accounts"
)

// Auth serves /auth/*.
type Auth struct {
	Accounts *accounts.Service // its ExposesTokens decides whether mailed tokens are in responses
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type tokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int64  `json:"expiresIn"`
}

func pairJSON(p accounts.TokenPair) tokenPair {
	return tokenPair{AccessToken: p.AccessToken, RefreshToken: p.RefreshToken, TokenType: "Bearer", ExpiresIn: p.ExpiresIn}
}

// Register handles POST /auth/register.
func (h *Auth) Register(c *gin.Context) (int, any, error) {
	var in credentials
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	u, token, err := h.Accounts.Register(c.Request.Context(), in.Email, in.Password)
	if err != nil {
		return 0, nil, err
	}
	out := gin.H{"user": userJSON(u)}
	if h.Accounts.ExposesTokens() {
		out["verificationToken"] = token
	}
	return http.StatusCreated, out, nil
}

// Verify handles GET /auth/verify?token=T. HEAD answers the same status
// without spending the token.
func (h *Auth) Verify(c *gin.Context) (int, any, error) {
	verify := h.Accounts.Verify
	if c.Request.Method == http.MethodHead {
		verify = h.Accounts.CheckVerification
	}
	if err := verify(c.Request.Context(), c.Query("token")); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, gin.H{"message": "Email verified"}, nil
}

type emailOnly struct {
	Email string `json:"email"`
}

// ResendVerification handles POST /auth/verify/resend; the answer is the
// same whether or not the address exists.
func (h *Auth) ResendVerification(c *gin.Context) (int, any, error) {
	var in emailOnly
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	if _, err := h.Accounts.ResendVerification(c.Request.Context(), in.Email); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, gin.H{"message": "If the address is registered and unverified, a verification e-mail is on its way"}, nil
}

// Login handles POST /auth/login.
func (h *Auth) Login(c *gin.Context) (int, any, error) {
	var in credentials
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	pair, err := h.Accounts.Login(c.Request.Context(), in.Email, in.Password)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pairJSON(pair), nil
}

type refreshBody struct {
	RefreshToken string `json:"refreshToken"`
}

// Refresh handles POST /auth/refresh.
func (h *Auth) Refresh(c *gin.Context) (int, any, error) {
	var in refreshBody
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	pair, err := h.Accounts.Refresh(c.Request.Context(), in.RefreshToken)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pairJSON(pair), nil
}

// Logout handles POST /auth/logout: the presented token's session ends.
func (h *Auth) Logout(c *gin.Context) (int, any, error) {
	var in refreshBody
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	if err := h.Accounts.Logout(c.Request.Context(), in.RefreshToken); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// LogoutAll handles POST /auth/logout-all.
func (h *Auth) LogoutAll(c *gin.Context) (int, any, error) {
	id, err := caller(c)
	if err != nil {
		return 0, nil, err
	}
	if err := h.Accounts.LogoutAll(c.Request.Context(), id); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// Me handles GET /auth/me.
func (h *Auth) Me(c *gin.Context) (int, any, error) {
	id, err := caller(c)
	if err != nil {
		return 0, nil, err
	}
	u, err := h.Accounts.User(c.Request.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, gin.H{"user": userJSON(u)}, nil
}
