var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddCremaDTrainerService();
var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
